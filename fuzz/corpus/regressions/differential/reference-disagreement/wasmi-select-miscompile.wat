;; wasmi 2.0.0 evaluates this `select` (condition `i32.eqz` of a local just set, a value
;; beneath it on the operand stack, inside a block with a parameter) to the wrong operand
;; and divides by zero; the right answer is 27 / 1 = 27, which Gasket returns. The
;; differential target triages it as a reference disagreement through its second
;; interpreter (gasket_fixtures::tiebreak, wasmi 0.31, which returns 27).
(module
  (type (func (param i32) (result i32)))
  (func (export "f") (param i32) (result i32) (local i32)
    i32.const -134217728
    local.set 0
    local.get 0
    i32.ctz
    block (type 0)
      i64.const -8
      i64.const 5850736623180341808
      i64.eq
      local.set 1
      i32.const 1
      local.get 1
      local.get 1
      i32.eqz
      select
      i32.div_u
    end))
