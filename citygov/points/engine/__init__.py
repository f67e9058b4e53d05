"""Pure-Python rules of the points economy (no Django): lot consumption, refunds, ids and signatures."""
