from .par import PAR, par_affinity, par_propagate, par_refine, par_refine_loop

__all__ = ['PAR', 'par_affinity', 'par_propagate', 'par_refine', 'par_refine_loop']
