"""Mask maths: a picture into the model (``preprocess``), logits into labels
(``postprocess``), steadier masks over time (``smoothing``) and edges snapped to the picture's
(``refine``). A new mask step goes here; it sees tensors and arrays, never files or widgets.
"""
