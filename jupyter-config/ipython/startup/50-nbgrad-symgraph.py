# Installed by nbgrad into {sys.prefix}/etc/ipython/startup/, which every IPython kernel of
# this environment runs at start next to the user's own startup files and configuration.
# It only records that %%symgraph comes from the nbgrad_magics extension: nothing of nbgrad
# is imported until the magic is first used (IPython then runs %load_ext nbgrad_magics).
# It runs in the user's namespace, so it binds no names there.
try:
    __import__("IPython").get_ipython().magics_manager.register_lazy("symgraph", "nbgrad_magics")
except AttributeError:  # not inside IPython, or an IPython without lazy magics
    pass
