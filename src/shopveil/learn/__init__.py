"""Personalization trained with privacy: recommenders, customer models, PATE distillation.

Everything here needs the ``[ml]`` extra (scipy; torch and Opacus for DP-SGD, imported only
by the models that train with them).
"""
