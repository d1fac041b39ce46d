"""CLI subcommands of ``python -m resnet_viz`` (see resnet_viz.cli.COMMANDS)."""
