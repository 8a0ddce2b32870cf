"""Generation stage: seed tasks -> teacher prompts -> filtered, labelled instructions."""
