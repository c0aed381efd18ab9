"""Fast protocol kernels over flat arrays.

Numba kernels (``@njit(cache=True)``) over CSR graphs and float vectors, each with a
thin validated Python API beside it: validation and friendly errors live in the Python
layer, the hot loop has none.

Layering: ``protocols`` imports nothing else of swarmgym.
"""
