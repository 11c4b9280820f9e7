"""Graph rewrites: the rewrite database, its phases and the families of rewrites.

``rewrite_graph(fgraph, mode)`` runs the rewrites that ``mode`` selects (see
``nbgrad.rewriting.passes`` for the phase list and ``Mode`` for the queries).
"""

from nbgrad.rewriting.db import Mode, db, get_mode, graph_rewriter, node_rewriter
from nbgrad.rewriting import passes  # noqa: F401  (registers every rewrite)
from nbgrad.rewriting.driver import RewriteWarning, rewrite_graph

__all__ = ["rewrite_graph", "Mode", "db", "get_mode", "node_rewriter", "graph_rewriter",
           "RewriteWarning", "passes"]
