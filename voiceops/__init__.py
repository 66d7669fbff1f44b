"""voiceops: the logic behind the platform repository's Invoke tasks.

Kept free of third-party imports so scripts/bootstrap.py can import
voiceops.toolchain before the project venv exists.
"""
