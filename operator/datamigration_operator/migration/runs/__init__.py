"""The runs: copy, sync and validate from settings to result, with checkpoints and reports."""
