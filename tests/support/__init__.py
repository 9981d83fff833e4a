"""Support code shared by the test modules (never a test module itself)."""
