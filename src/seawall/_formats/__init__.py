"""Readers for the files users write: Kubernetes manifests and chaos experiment files.

Both :mod:`seawall.kube` and :mod:`seawall.experiment` read YAML with line numbers, and
each ships with PyYAML through its own extra (``kube``, ``chaos``). The reader lives here,
beside both and inside neither: inside ``kube`` it would make experiments import the
schema validator (``jsonschema``, the kube extra) through ``seawall.kube``'s package
import; inside ``experiment`` it would make the linter load the experiment engine. Nothing
in the core imports this package, so ``import seawall`` never needs PyYAML.
"""
