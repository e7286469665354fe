"""Scripts that calculation jobs run on the remote computer with its own Python."""
