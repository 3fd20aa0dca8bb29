"""Learning from trajectories: recorded runs to a dataset (`export`), a dataset to a fine-tuned
model (`train`), its curves (`plots`), and the `vlagent data export` / `vlagent train` commands
(`cli`). Nothing heavy is imported here: torch, transformers and peft load when a function runs.
"""
