"""``AsyncClient``: the same methods as :class:`lastmile.Client`, awaitable. Each call runs the
blocking client's in a thread of the client's own pool, so an event loop (a notebook, a web app)
keeps running while a deploy, a batch job or an explanation is waited for.

    async with lastmile.AsyncClient(url) as lm:
        p = lm.workspace("default").pipeline("demo")     # handles: no call, no await
        df = await p.infer(frame)
"""

from __future__ import annotations

import asyncio
import functools
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Optional

from .client import Assay, Client, Job, Pipeline, Workspace

# Methods that only build a handle (no call to the server): they stay synchronous.
_HANDLES = frozenset({"workspace", "pipeline"})
# What a call may answer that is itself a handle with calls: wrapped so its calls are awaitable too.
_WRAPPED = (Workspace, Pipeline, Job, Assay)


class _Async:
    def __init__(self, target: Any, pool: ThreadPoolExecutor):
        self._target = target
        self._pool = pool

    def __repr__(self) -> str:
        return f"<async {self._target!r}>"

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._target, name)
        if not callable(value):
            return value
        if name in _HANDLES:
            return lambda *a, **kw: _Async(value(*a, **kw), self._pool)

        async def call(*args: Any, **kwargs: Any) -> Any:
            loop = asyncio.get_running_loop()
            result = await loop.run_in_executor(self._pool, functools.partial(value, *args, **kwargs))
            if isinstance(result, _WRAPPED):
                return _Async(result, self._pool)
            if isinstance(result, list) and result and isinstance(result[0], _WRAPPED):
                return [_Async(r, self._pool) for r in result]
            return result

        return call


class AsyncClient(_Async):
    """A lastmile server, awaitable: ``await lm.workspaces()``, ``await p.infer(df)``,
    ``await p.deploy()``; ``lm.workspace(name)`` and ``ws.pipeline(name)`` answer handles at once.
    Arguments as :class:`lastmile.Client`'s; ``max_workers`` bounds the calls in flight."""

    def __init__(
        self,
        url: Optional[str] = None,
        api_key: Optional[str] = None,
        timeout: float = 60.0,
        retries: int = 3,
        max_workers: int = 8,
    ):
        super().__init__(Client(url, api_key, timeout, retries), ThreadPoolExecutor(max_workers, "lastmile"))

    async def __aenter__(self) -> "AsyncClient":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Wait for the calls in flight and release the thread pool."""
        await asyncio.get_running_loop().run_in_executor(None, functools.partial(self._pool.shutdown, wait=True))
