from .clip import *  # noqa: F401,F403
from .dino import *  # noqa: F401,F403
from .heads import *  # noqa: F401,F403
from .loss_terms import *  # noqa: F401,F403
from .losses import *  # noqa: F401,F403
from .pseudo_labels import *  # noqa: F401,F403
from .segmentors import *  # noqa: F401,F403
from .utils import *  # noqa: F401,F403
