"""The patient-identifier screen: planted identifiers of every kind found, clean clinical text left alone."""

from __future__ import annotations

import time

import pytest

from bioinstruct.errors import ConfigError
from bioinstruct.generation.identifiers import ACTIONS, KINDS, Identifier, IdentifierScreen

# Each text with the identifiers planted in it: (kind, the exact text the screen must report).
PLANTED: list[tuple[str, list[tuple[str, str]]]] = [
    (
        "Mr. John Smith, DOB 03/14/1962, was admitted on March 3, 2021 with chest pain.",
        [("name", "John Smith"), ("date", "03/14/1962"), ("date", "March 3, 2021")],
    ),
    (
        "Discharge summary: the patient was discharged on 2021-03-09 to home with his wife, Linda.",
        [("date", "2021-03-09"), ("name", "Linda")],
    ),
    ("MRN 00123456. Attending note follows.", [("record_number", "00123456")]),
    (
        "Patient identifiers: MRN: 4471902; account #88231.",
        [("record_number", "4471902"), ("record_number", "88231")],
    ),
    (
        "Health plan member ID: XJH-448201 (Medicare ID 1EG4-TE5-MK73).",
        [("record_number", "XJH-448201"), ("record_number", "1EG4-TE5-MK73")],
    ),
    (
        "Call the clinic at (415) 555-0132 or fax results to 415-555-0199.",
        [("phone", "(415) 555-0132"), ("phone", "415-555-0199")],
    ),
    ("Her daughter can be reached at +1 617 555 0143 after 5 pm.", [("phone", "+1 617 555 0143")]),
    (
        "Questions about the referral: jsmith.md@example-clinic.org.",
        [("email", "jsmith.md@example-clinic.org")],
    ),
    ("SSN 123-45-6789 was recorded at registration.", [("ssn", "123-45-6789")]),
    ("Social security number: 078051120 on file.", [("ssn", "078051120")]),
    (
        "Results are in the portal at https://mychart.example.org/patient/48213?view=labs.",
        [("url", "https://mychart.example.org/patient/48213?view=labs")],
    ),
    ("She logged in from www.example.com/records (see the audit).", [("url", "www.example.com/records")]),
    ("The telehealth session came from IP 192.168.10.45 at home.", [("ip", "192.168.10.45")]),
    ("Device traffic from fe80::1ff:fe23:4567:890a was logged.", [("ip", "fe80::1ff:fe23:4567:890a")]),
    ("He lives at 12 Oak Street, Springfield, IL 62704 with his son.", [("zip", "62704")]),
    ("Mailing address: 450 Pine Ave, Boston, Massachusetts 02115-4471.", [("zip", "02115-4471")]),
    ("Home ZIP code 94110 was used to find a nearby pharmacy.", [("zip", "94110")]),
    ("A 93-year-old woman presented with syncope.", [("age_over_89", "93-year-old")]),
    ("Age 91, lives alone, independent in ADLs.", [("age_over_89", "Age 91")]),
    ("The patient, aged 95, was started on apixaban.", [("age_over_89", "aged 95")]),
    ("The patient Maria Garcia reported dizziness after the dose change.", [("name", "Maria Garcia")]),
    ("Patient Carlos Ruiz was seen in clinic.", [("name", "Carlos Ruiz")]),  # known miss, see KNOWN_MISSES
    ("Mrs. O'Brien's daughter Anna asked about hospice.", [("name", "O'Brien"), ("name", "Anna")]),
    (
        "His name is Robert Chen and he was born on 7 June 1931.",
        [("name", "Robert Chen"), ("date", "7 June 1931")],
    ),
    ("She died on Dec. 2, 2020 at 04:10 after a cardiac arrest.", [("date", "Dec. 2, 2020")]),
    ("She presented to the emergency department on April 12 with dyspnea.", [("date", "April 12")]),
    ("DOB: 11/02/45. Readmitted 1/17 for a COPD exacerbation.", [("date", "11/02/45"), ("date", "1/17")]),
    ("He is a 102 y/o man with atrial fibrillation.", [("age_over_89", "102 y/o")]),
    (
        "Pt. Jane Doe, age 90, was admitted 02/29/2020 from Hartford, CT 06106.",
        [("name", "Jane Doe"), ("age_over_89", "age 90"), ("date", "02/29/2020"), ("zip", "06106")],
    ),
    ("She was hospitalized from March 2 to March 9, 2023.", [("date", "March 2"), ("date", "March 9, 2023")]),
    (
        "Contact son-in-law Peter at 212.555.0178 ext. 22 or peter.k@mail.com.",
        [("name", "Peter"), ("phone", "212.555.0178 ext. 22"), ("email", "peter.k@mail.com")],
    ),
    ("MR# 889-1123-4. Acct. No. 55-66789.", [("record_number", "889-1123-4"), ("record_number", "55-66789")]),
    (
        "Her insurance ID is QWE123456789 and policy number 77889900.",
        [("record_number", "QWE123456789"), ("record_number", "77889900")],
    ),
    (
        "He is a ninety-three-year-old with sepsis; his sister is 104 years old.",
        [("age_over_89", "ninety-three-year-old"), ("age_over_89", "104 years old")],
    ),
    ("Aged ninety-one, she lives alone.", [("age_over_89", "Aged ninety-one")]),
    ("DOB 1/2/1940, admitted 5/6/2021.", [("date", "1/2/1940"), ("date", "5/6/2021")]),
    (
        "Discharge date: 14.03.2022. Date of death 2022-05-01.",
        [("date", "14.03.2022"), ("date", "2022-05-01")],
    ),
    ("The patient, Aisha Khan, was admitted on 3/14.", [("name", "Aisha Khan"), ("date", "3/14")]),
    ("The patient Carlos Ruiz was seen in clinic.", [("name", "Carlos Ruiz")]),
    ("Born on July 4th, 1929 in Ohio.", [("date", "July 4th, 1929")]),
    ("Grandson Ethan Miller brought her to the ED.", [("name", "Ethan Miller")]),
    ("Her daughter's name is Olivia.", [("name", "Olivia")]),
    ("Her mother Mary had breast cancer at 45.", [("name", "Mary")]),
    ("Contact her husband, Mr. David Lee, before discharge.", [("name", "David Lee")]),
    ("IP address 10.0.0.12 logged the access to the chart.", [("ip", "10.0.0.12")]),
    (
        "Call 1-888-555-0123 or (617) 555-0199 for results.",
        [("phone", "1-888-555-0123"), ("phone", "(617) 555-0199")],
    ),
    ("Fax: 312 555 0147; cell 7735550188.", [("phone", "312 555 0147"), ("phone", "7735550188")]),
    ("SSN: 219 09 9999.", [("ssn", "219 09 9999")]),
    ("The patient was admitted in March 2021 for pneumonia.", [("date", "March 2021")]),
    ("She was diagnosed with lupus in June 2015.", [("date", "June 2015")]),
    ("Emergency contact: wife Susan, (503) 555-0172.", [("name", "Susan"), ("phone", "(503) 555-0172")]),
    (
        "Ms. Nguyen, 94 years old, was admitted on Jan 5, 2022.",
        [("name", "Nguyen"), ("age_over_89", "94 years old"), ("date", "Jan 5, 2022")],
    ),
    ("Patient name: Robert Jones; DOB: 04-22-1958.", [("name", "Robert Jones"), ("date", "04-22-1958")]),
    ("He was discharged on 12/24 and readmitted on 12/29.", [("date", "12/24"), ("date", "12/29")]),
    ("Send records to records@stmarys-hospital.org.", [("email", "records@stmarys-hospital.org")]),
    ("Patient portal: http://portal.stmarys.org/login", [("url", "http://portal.stmarys.org/login")]),
    ("Chart number 55-20931 was merged.", [("record_number", "55-20931")]),
    ("Her son, Michael Brown, is the health care proxy.", [("name", "Michael Brown")]),
    ("The patient lives in Tulsa, OK 74103.", [("zip", "74103")]),
    ("A 99-year-old man fell at home.", [("age_over_89", "99-year-old")]),
    ("Mr. Patel was born on 2 February 1940.", [("name", "Patel"), ("date", "2 February 1940")]),
    ("Medicaid ID: 8823401176.", [("record_number", "8823401176")]),
    ("SSN 501-22-8734 on file.", [("ssn", "501-22-8734")]),
    ("She died on 3/3/2019 at home.", [("date", "3/3/2019")]),
    ("The login came from 172.16.254.1.", [("ip", "172.16.254.1")]),
    ("His daughter Fatima will bring him.", [("name", "Fatima")]),
    ("The patient John was admitted.", [("name", "John")]),
]
# Planted identifiers the screen misses, kept in PLANTED so that recall counts them: a capitalised
# "Patient" is followed by a name only when the given-name list knows it ("Patient Health Questionnaire").
KNOWN_MISSES = {"Patient Carlos Ruiz was seen in clinic."}

CLEAN = [
    "Start metformin 500 mg twice daily and titrate to 1000 mg twice daily.",
    "Insulin glargine 10 units at bedtime; increase by 2 units every 3 days.",
    "HbA1c 7.2% and fasting glucose 142 mg/dL despite adherence.",
    "Potassium 5.9 mmol/L and creatinine 2.1 mg/dL on admission labs.",
    "WBC 12,000/µL with 85% neutrophils; platelets 250,000/µL.",
    "BP 150/95 mmHg, HR 102 bpm, SpO2 91% on room air.",
    "eGFR 45 mL/min/1.73m2 warrants a dose reduction of sitagliptin.",
    "Patients with T2DM, COPD or a prior NSTEMI were excluded.",
    "The 2019 ACC/AHA guideline recommends statins for primary prevention.",
    "Mortality fell by 20% (Smith et al., 2020), as a 2019 meta-analysis had suggested.",
    "A 67-year-old man with hypertension was treated for 3 days with ceftriaxone.",
    "An 89-year-old woman with hip fracture; age 45 at diagnosis of her diabetes.",
    "Code the diagnosis as E11.9 (type 2 diabetes mellitus without complications).",
    "Vitamin D3 5000 IU daily for 8 weeks, then 1000 IU daily.",
    "Parkinson's disease and Hodgkin lymphoma are both named after physicians.",
    "The Apgar score was 8 at 1 minute and 9 at 5 minutes.",
    "Cushing syndrome, Crohn disease and Graves disease can all cause weight change.",
    "BRCA1 and TP53 variants were absent; EGFR exon 19 deletion was present.",
    "The Patient Health Questionnaire (PHQ-9) screens for depression.",
    "Warfarin 5 mg daily with a target INR of 2.0-3.0.",
    "The trial NCT04280705 enrolled 1062 patients; see PMID 32445440.",
    "The FDA approved semaglutide for weight management on June 4, 2021.",
    "The results were presented at the AHA meeting on November 12, 2022.",
    "Adults aged 90 or older were analysed as one group, as Safe Harbor requires.",
    "QTc 470 ms; troponin 0.04 ng/mL at 0 and 3 hours.",
    "Give amoxicillin 45 mg/kg/day divided every 12 hours for 10 days.",
    "The infant, age 90 days, had a temperature of 38.5 °C.",
    "Dilute 1:10 and infuse 250 mL over 30 min; ratio 3:1 of crystalloid to colloid.",
    "Stage 3 chronic kidney disease affects about 14% of US adults.",
    "The mother was counselled on breastfeeding and the son on inhaler technique.",
    "Follow the 2023 GOLD report: LABA/LAMA for group E patients.",
    "Lisinopril 10 mg once daily lowered systolic BP by 12 mmHg over 6 months.",
    "Published online in May 2020, the trial changed practice.",
    "Hospital admission rates for asthma peaked in September 2021.",
    "COVID-19 deaths peaked in April 2020 in New York.",
    "James Parkinson died on 21 December 1824 in London.",
    "Of those admitted, 1/3 required mechanical ventilation.",
    "Take 1/2 tablet on 2/3 of days.",
    "The Sister Mary Joseph nodule suggests intra-abdominal malignancy.",
    "Family history: mother Type 2 diabetes; father Alzheimer's disease.",
    "Its brand name is Ozempic and its generic name is semaglutide.",
    "See section 4.2.1.3 of the guideline for dosing in renal failure.",
    "Patients ≥90 years of age were excluded from the trial.",
    "Participants aged 90 to 99 years had the highest fracture rate.",
    "Life expectancy in Japan is now 84 years; few reach 90 years old without frailty.",
    "NDC 50090-2875-0 identifies the 10 mg tablet.",
    "The infant was seen at 2 weeks and 2 months for well-child visits.",
    "Give the first dose on day 1 and repeat on day 8.",
    "The influenza vaccine should be given before October 31 each year.",
    "The 2020-2021 influenza season was unusually mild.",
    "Serum sodium fell from 138 to 128 mEq/L over 48 hours.",
    "Ferritin 12 ng/mL, TSAT 9%, hemoglobin 9.8 g/dL.",
    "Prednisone 40 mg daily for 5 days, then taper by 10 mg every 3 days.",
    "Ceftriaxone 2 g IV q24h; vancomycin 15-20 mg/kg q8-12h.",
    "The Framingham Risk Score and the Wells criteria guide testing.",
    "Treat per the Surviving Sepsis Campaign 2021 guidelines.",
    "Reassess the patient in 48 hours and repeat the CBC.",
    "Educate the patient on Hypoglycemia Symptoms and glucose tablets.",
    "Ask the patient about Tobacco Use at every visit.",
    "Give the patient Written Instructions before discharge.",
    "Ms. patients with relapsing disease benefit from ocrelizumab.",
    "Down syndrome, Turner syndrome and Klinefelter syndrome are chromosomal disorders.",
    "The Glasgow Coma Scale was 14; the Mallampati class was II.",
    "ICD-10 codes I21.4 and N17.9 were assigned; CPT 99223 was billed.",
    "PMID: 31442343; doi:10.1056/NEJMoa1911303.",
    "Hemoglobin A1c target below 7% per ADA 2024 Standards of Care.",
    "Tdap at 27-36 weeks of gestation in every pregnancy.",
    "His father, a retired teacher, had a myocardial infarction at 62.",
    "A 78-year-old woman with heart failure was started on sacubitril/valsartan 24/26 mg twice daily.",
    "Her sodium was 131 mEq/L on 3 separate occasions.",
    "He underwent PCI of the LAD with a drug-eluting stent.",
    "She was admitted for 4 days and discharged on oral amoxicillin-clavulanate 875/125 mg.",
    "In 2018, the USPSTF lowered the colorectal screening age to 45.",
    "The Wilson disease workup includes ceruloplasmin and 24-hour urine copper.",
    "Give aspirin 325 mg, then 81 mg daily indefinitely.",
    "Troponin rose from 0.03 to 1.2 ng/mL over 6 hours.",
    "The CHA2DS2-VASc score was 4 and HAS-BLED was 2.",
    "Magnesium 1.4 mg/dL; replete with 2 g IV over 2 hours.",
    "Benzathine penicillin G 2.4 million units IM once.",
    "Hypertension affects 1 in 3 adults, per the 2017 ACC/AHA definition.",
    "The patient reports chest pain radiating to the left arm.",
    "Her father had colon cancer at age 52.",
    "Mrs. and Mr. are titles; use the patient's preferred name.",
    "The Whipple procedure is used for pancreatic head tumors.",
    "Graves' disease is treated with methimazole 10-20 mg daily.",
    "Order a chest X-ray, CBC, BMP and lactate; repeat lactate in 2 hours.",
    "Her INR was 3.4 on warfarin 7.5 mg on Mon/Wed/Fri.",
    "He was seen in clinic 2 weeks after discharge.",
    "The Berlin definition of ARDS was published in JAMA in June 2012.",
    "Mother and baby were discharged on day 2 postpartum.",
    "Dosing: 0.5-1 mg/kg/dose every 6-8 hours (max 40 mg/day).",
    "CD4 count 180 cells/mm3 and viral load 45,000 copies/mL.",
    "The ratio of FEV1/FVC was 0.62 after bronchodilator.",
]


@pytest.fixture(scope="module")
def screen() -> IdentifierScreen:
    return IdentifierScreen()


def spans(text: str, expected: list[tuple[str, str]]) -> list[tuple[str, int, int, str]]:
    """``(kind, start, end, text)`` for each expected substring, in the order the screen returns them."""
    out = []
    for kind, sub in expected:
        start = text.index(sub)
        out.append((kind, start, start + len(sub), sub))
    return sorted(out, key=lambda item: item[1])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(text, expected, marks=[pytest.mark.xfail(strict=True)] if text in KNOWN_MISSES else [])
        for text, expected in PLANTED
    ],
    ids=[t[:40] for t, _ in PLANTED],
)
def test_planted_identifiers_found_with_kind_and_span(screen, text, expected):
    found = screen.find(text, field="input")
    assert [(f.kind, f.start, f.end, f.text) for f in found] == spans(text, expected)
    assert all(f.field == "input" and text[f.start : f.end] == f.text for f in found)


@pytest.mark.parametrize("text", CLEAN, ids=[t[:40] for t in CLEAN])
def test_clean_clinical_text_has_no_identifiers(screen, text):
    assert screen.find(text) == []


def test_every_kind_is_planted():
    assert {kind for _, expected in PLANTED for kind, _ in expected} == set(KINDS)


def test_precision_and_recall_over_planted_and_clean(screen):
    tp = fp = fn = 0
    for text, planted in PLANTED:
        truth = set(spans(text, planted))
        got = {(f.kind, f.start, f.end, f.text) for f in screen.find(text)}
        tp, fp, fn = tp + len(got & truth), fp + len(got - truth), fn + len(truth - got)
    fp += sum(len(screen.find(text)) for text in CLEAN)
    precision, recall = tp / (tp + fp), tp / (tp + fn)
    print(f"\nidentifier screen: precision {precision:.3f}, recall {recall:.3f} (tp {tp}, fp {fp}, fn {fn})")
    assert precision == 1.0
    assert recall >= 0.98  # 95 of 96 here: one name after a capitalised "Patient" (KNOWN_MISSES)


def test_redact_replaces_each_span_with_its_kind(screen):
    fields = {
        "instruction": "Summarise the discharge note for the family.",
        "input": "Mr. John Smith (MRN 00123456), DOB 03/14/1962, was discharged on March 9, 2021. "
        "Call 415-555-0132 or write to jsmith@example.org.",
        "output": "A 93-year-old man went home on apixaban 5 mg twice daily.",
    }
    found = screen.screen(fields)
    assert {f.field for f in found} == {"input", "output"}
    redacted = screen.redact(fields, found)
    assert redacted == {
        "instruction": fields["instruction"],
        "input": "Mr. [NAME] (MRN [RECORD_NUMBER]), DOB [DATE], was discharged on [DATE]. "
        "Call [PHONE] or write to [EMAIL].",
        "output": "A [AGE_OVER_89] man went home on apixaban 5 mg twice daily.",
    }
    assert fields["input"].startswith("Mr. John Smith")  # a new dict; the given one is unchanged
    assert screen.screen(redacted) == []


def test_redact_refuses_a_stale_span(screen):
    found = screen.screen({"output": "Call 415-555-0132."})
    with pytest.raises(ValueError, match="stale"):
        screen.redact({"output": "Call me."}, found)


def test_reason_is_one_short_line(screen):
    found = screen.screen(
        {"input": "Call 415-555-0132.", "output": "Write to a@example.org or b@example.org."}
    )
    assert screen.reason(found) == "patient identifiers: phone 1, email 2 (in input, output)"
    many = [
        Identifier(kind, field, 0, 1, "x") for kind in KINDS for field in ("instruction", "input", "output")
    ]
    line = screen.reason(many)
    assert len(line) <= 120 and "\n" not in line


def test_overlaps_keep_the_longest_and_results_are_sorted(screen):
    text = "See http://192.168.1.20/chart and then call (212) 555-0100."
    found = screen.find(text)
    assert [(f.kind, f.text) for f in found] == [
        ("url", "http://192.168.1.20/chart"),
        ("phone", "(212) 555-0100"),
    ]
    assert [f.to_dict() for f in found][1] == {
        "kind": "phone",
        "field": "output",
        "start": text.index("("),
        "end": len(text) - 1,
        "text": "(212) 555-0100",
    }


def test_kinds_limit_what_is_screened():
    screen = IdentifierScreen("drop", kinds=["email"])
    assert screen.name == "patient_identifiers"  # the filter a drop is journaled under
    assert screen.action == "drop" and screen.kinds == ("email",)
    text = "Call 415-555-0132 or write to a@example.org."
    assert [f.kind for f in screen.find(text)] == ["email"]
    assert IdentifierScreen(kinds="phone, email").kinds == ("phone", "email")
    assert IdentifierScreen(kinds=[]).find(text) == []


@pytest.mark.parametrize(
    ("kwargs", "bad", "hint"),
    [
        ({"action": "dorp"}, "'dorp'", "did you mean 'drop'?"),
        ({"action": "redacted"}, "'redacted'", "did you mean 'redact'?"),
        ({"kinds": ["phone", "emial"]}, "'emial'", "did you mean 'email'?"),
        ({"kinds": ["record"]}, "'record'", "did you mean 'record_number'?"),
    ],
)
def test_bad_config_is_one_line_with_a_suggestion(kwargs, bad, hint):
    with pytest.raises(ConfigError) as caught:
        IdentifierScreen(**kwargs)
    message = str(caught.value)
    assert bad in message and hint in message and "\n" not in message
    assert "expected one of" in message
    assert ", ".join(ACTIONS) in message or ", ".join(KINDS) in message


def test_screen_is_fast_enough_for_every_candidate(screen):
    # a typical ~100-word candidate, with a few numbers that look like phone numbers to the hint
    text = " ".join(CLEAN[:6] + [PLANTED[0][0], PLANTED[5][0]])
    fields = {
        "instruction": "Summarise the note below for a patient handout.",
        "input": text,
        "output": CLEAN[10],
    }
    screen.screen(fields)
    runs = 200
    start = time.perf_counter()
    for _ in range(runs):
        screen.screen(fields)
    per_candidate_ms = (time.perf_counter() - start) / runs * 1000
    print(f"\nidentifier screen: {per_candidate_ms:.2f} ms per candidate ({len(text.split())} words)")
    assert per_candidate_ms < 10  # the target is < 2 ms; the bound leaves room for a loaded CI machine
