"""The render queue: jobs saved with the project, run one at a time through api.convert in a worker."""
