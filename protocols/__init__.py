"""Fast protocol kernels over flat arrays.

Numba kernels (``@njit(cache=True)``) over CSR graphs and float vectors, each with a
thin validated Python API beside it: validation and friendly errors live in the Python
layer, the hot loop has none.

Layering: ``protocols`` imports nothing else of swarmgym.

Examples
--------
One LCP round on the path 0 - 1 - 2 (each node averages itself and its neighbours):

>>> from protocols.csr import csr_from_edges
>>> from protocols.wmsr import lcp_step
>>> import numpy as np
>>> g = csr_from_edges(3, [[0, 1], [1, 2]])
>>> x = np.array([0.0, 3.0, 6.0])
>>> lcp_step(x, g.indptr, g.indices, x[g.indices])
array([1.5, 3. , 4.5])
"""

__all__: list[str] = []  # the package exports its modules, not names
