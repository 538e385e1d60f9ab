"""Numba kernels. Each module holds kernels of one kind; all are nogil and cached."""
