"""Laws of motion and collision: numpy, numba and pybullet; no gymnasium."""
