# The toy DALNet (dalnet_toy-clip_...) started from toy-clip-dense instead of toy-clip: the same toy CLIP recipe
# plus a dense patch-text term on its own corpus (tools/toy_teachers/build_toy_clip_dense.py, built by
# `make toy-teachers`), so that its patch tokens start pointing at the objects, the property DALNet's
# object-aware mask and patch-text CAMs rely on and toy-clip lacks (its patch-text ROC AUC is about chance). A toy
# probe of DALNet's claims from a localised start, not a stand-in for real CLIP: compare it with its own start.
_base_ = ['./dalnet_toy-clip_1xb8-2k_toy-112x112.py']
toy_clip = 'data/toy_teachers/toy_clip_dense.pt'
model = dict(backbone=dict(pretrained=toy_clip), encoders=dict(clip_text=dict(pretrained=toy_clip)))
toy_compare = dict(name='DALNet (toy-clip-dense)', init=None)
