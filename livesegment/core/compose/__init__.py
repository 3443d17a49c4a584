"""Picture composition: labels and a frame into what the user sees. Class colours
(``palette``), the colour overlay (``overlay``), background effects that chain (``effects``)
and the output views (``views``). A new effect goes in ``effects``.
"""
