"""The lab: a one-machine production simulation for shifter (not shipped in the wheel)."""
