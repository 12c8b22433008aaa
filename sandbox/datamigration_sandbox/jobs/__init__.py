"""Job controller that runs each Job's container command as a local process."""
