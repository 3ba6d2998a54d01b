"""lastmile: the Python SDK of the lastmile inference server.

    import lastmile, pandas as pd
    lm = lastmile.Client("http://127.0.0.1:8080")
    p = lm.workspace("default").pipeline("demo")
    p.infer(pd.DataFrame({"x": [[0.5, -1.2, 3.3, 0.7]]}))
"""

from ._http import ApiError, LastmileError, LastmileTimeout
from ._sources import ModelSourceError
from .aio import AsyncClient
from .client import Assay, Client, Job, Pipeline, Record, Svg, Workspace

__all__ = [
    "ApiError",
    "Assay",
    "AsyncClient",
    "Client",
    "Job",
    "LastmileError",
    "LastmileTimeout",
    "ModelSourceError",
    "Pipeline",
    "Record",
    "Svg",
    "Workspace",
]
__version__ = "0.1.0"
