from .memory import ClassMemory

__all__ = ['ClassMemory']
