"""The model and the maths, with no files, threads or widgets (those are io, pipeline, gui).

``frames`` holds the one record per stage (Frame, Inference, Composed); ``segmenter`` runs a
model on a frame and composes the result; ``budget`` bounds every size by the memory budget. Around them: ``models`` (networks and the zoo),
``masks`` (mask maths) and ``compose`` (colours, overlay, effects, views).
"""
