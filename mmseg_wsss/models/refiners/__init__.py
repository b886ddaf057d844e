from .par import PAR, par_affinity, par_propagate, par_refine

__all__ = ['PAR', 'par_affinity', 'par_propagate', 'par_refine']
