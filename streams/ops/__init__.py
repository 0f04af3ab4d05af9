"""What a person or the retrain job runs: the `clinstream` CLI, the embedded runtime, the demo,
promotion (retrain, rollback) and the end-to-end benchmark. It imports the worker's modules;
they never import it."""
