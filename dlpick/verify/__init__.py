"""Verification: the checks a generated project must pass, and the isolated environments they run in."""
