"""The paper's evidence computed from networks: Figure 6 (training curves, Table 6), Figure 7 (layer responses)
and gradient flow."""
