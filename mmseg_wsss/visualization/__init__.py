from .cam_overlay import cam_row, colorize, overlay, stack_rows

__all__ = ['overlay', 'colorize', 'cam_row', 'stack_rows']
