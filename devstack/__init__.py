"""The local stack behind `make run` (not deployed): emulated AWS, the API and a worker."""
