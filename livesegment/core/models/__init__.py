"""Networks and the model zoo: a model is data (a ``ModelSpec`` and its weights).

A new network goes here: its code (``espnetv2``, ``sinet``, ``tflite_graph``), its entry in the
registry (``zoo``; the torch-free names and choices in ``catalog``), and how it runs
(``device``, ``frozen`` TorchScript graphs, ``onnx_backend``).
"""
