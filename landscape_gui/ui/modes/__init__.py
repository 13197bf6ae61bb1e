"""The modes beside the formula mode: a trained network's planes (``network``) and a
loss-landscape file (``landscape_file``), with the layout they share."""
