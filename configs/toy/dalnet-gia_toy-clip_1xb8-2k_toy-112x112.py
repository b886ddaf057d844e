# DALNet's component ablation on the toy set: GIA only (E2), LEA and the cross-contrastive loss dropped;
# everything else, the start and the iterations are the toy DALNet's (a row of
# tools/analysis_tools/compare_methods.py).
_base_ = ['./dalnet_toy-clip_1xb8-2k_toy-112x112.py']
model = dict(losses=dict(lea=None, cc=None))
toy_compare = dict(name='DALNet GIA only (toy-clip)', init=None)
