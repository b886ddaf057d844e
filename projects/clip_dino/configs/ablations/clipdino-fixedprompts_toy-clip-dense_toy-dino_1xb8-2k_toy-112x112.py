# Ablation of the toy flagship: without DALNet's alignment terms. The CAMs' prompts stay DALNet's fixed prompts
# (the `clip_text` encoder frozen: no context vectors, the background prompt fixed), so the CAMs are the start's
# patch-text CAMs throughout; everything else, the start and the iterations are the flagship's.
_base_ = ['../clipdino_toy-clip-dense_toy-dino_1xb8-2k_toy-112x112.py']
model = dict(
    encoders=dict(clip_text=dict(n_ctx=0, ctx_init=None, templates='single', learnable_bg=False, frozen=True)),
    losses=dict(gia=None, lea=None, cc=None))
toy_compare = dict(name='flagship without DALNet terms (fixed prompts)', init=None)
