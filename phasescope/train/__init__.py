"""Training: μ schedules, token weightings, losses (pure functions), the TRL trainer, evaluation."""
