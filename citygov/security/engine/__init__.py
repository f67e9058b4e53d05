"""Pure-Python engines of the security module: CPE 2.3 names, the NVD index, identification, matching.

Nothing here imports Django, so the engines run from the command line on plain files.
"""
