"""The streaming side: Faust app, message schemas, Triton client, metrics, runtime and CLI."""
