"""The shared base below every layer: the exception root and the clock; imports nothing of ours."""
