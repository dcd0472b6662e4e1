"""Ferrous grading harness: protocol parser, emulator runners, machine view, scoring."""
