"""Single-image and motion cues behind the weights-free depth provider (pure array functions)."""
