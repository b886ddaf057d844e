"""mmseg-wsss: weakly supervised semantic segmentation as an MMSegmentation 1.x plugin."""
import re
from pathlib import Path

from setuptools import find_packages, setup

here = Path(__file__).parent
version = re.search(r"__version__ = '([^']+)'", (here / 'mmseg_wsss' / 'version.py').read_text()).group(1)

setup(
    name='mmseg_wsss',
    version=version,
    description='Weakly supervised semantic segmentation (image-level labels) for MMSegmentation 1.x',
    long_description=(here / 'README.md').read_text() if (here / 'README.md').exists() else '',
    long_description_content_type='text/markdown',
    packages=find_packages(include=['mmseg_wsss', 'mmseg_wsss.*']),
    package_data={'mmseg_wsss': ['models/clip/model_configs/*.json']},  # open_clip architectures (toy-clip)
    python_requires='>=3.8',
    # Install order (torch -> mmcv built against it -> the rest) is handled by tools/setup_env.sh;
    # here we only name what must be importable.
    install_requires=['mmsegmentation>=1.2.0,<1.3', 'mmengine>=0.10.0,<0.11', 'mmcv>=2.0.0,<2.2.0'],
    license='Apache-2.0',
)
