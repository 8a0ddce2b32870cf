"""Training stage: TRL SFTTrainer + PEFT LoRA recipes, configs and pre-flight checks."""
