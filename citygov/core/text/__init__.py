"""Pure text helpers shared by the engines (no Django): normalisation, tokenising, masking."""
