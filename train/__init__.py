"""Training, evaluation, publishing and the CLI jobs of helpline-fusion."""
