"""The machine: hardware detection, doctor, bench."""
