"""Lecture videos with manim: recorded trajectories animated, nothing computed."""
