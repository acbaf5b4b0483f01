;; Found by the three-way differential (GASKET_FUZZ_SEED=174379519, iteration 1151; the raw
;; input is wasmi-unwritten-register.input beside this file), reduced by deleting lines while
;; wasmi 2.0.0 and Gasket still disagreed.
;;
;; By the spec, `f` leaves global 1 (export "g1") at 1: local 6 is never written, so it
;; holds its default 0; local 0 becomes ctz(local 2 = 0) = 64, so the `if` takes its `else`
;; arm, which xors the `if`'s parameter (memory.size = 1) into global 1, and the xor after
;; the `if` adds local 6 (0). Gasket (x86-64 and AArch64), wasmi 0.31 and Wasmer singlepass
;; give 1. wasmi 2.0.0 gives whatever an earlier call left in its value stack (65537, 1568,
;; 0x7f74_0000_0001, ... in the fuzz campaign; 0 in a fresh engine, hence `fill`): the
;; operand pushed by `local.get 6` is read from a register that nothing wrote on the path
;; taken. Removing the dead code after `return` in function 0
;; hides it. The differential target triages it through its second interpreter
;; (gasket_fixtures::tiebreak); the vm's `wasmi_reads_an_unwritten_register` is the canary.
(module
  (type (;0;) (func (param i64)))
  (memory (;0;) 1 1)
  (global (;0;) (mut i64) i64.const 5979956795471532656)
  (global (;1;) (mut i64) i64.const 0)
  (global (;2;) (mut i32) i32.const 0)
  (global (;3;) (mut i32) i32.const 200)
  (export "f" (func 1))
  (export "g1" (global 1))
  (func (;0;) (type 0) (param i64)
    (local i64 funcref i32 i32 i64)
    global.get 3
    if ;; label = @1
    end
    return
    i64.const -2442438665561165949
    call 1
    local.set 4
  )
  (func (;1;) (type 0) (param i64)
    (local i32 i64 i32 i32 i32 i64 i32 i64 i32 i32 i32 i64)
    global.get 3
    i32.const 1
    i32.sub
    global.set 3
    ref.null func
    block ;; label = @1
      i64.const -262145
      i32.wrap_i64
      local.set 1
      local.get 2
      i64.ctz
      local.set 0
      loop (result funcref) ;; label = @2
        global.get 3
        local.set 3
        block ;; label = @3
          block ;; label = @4
          end
        end
        local.get 4
        loop ;; label = @3
          global.get 3
          block ;; label = @4
            block ;; label = @5
            end
          end
          local.get 6
          memory.size
          i64.extend_i32_u
          local.get 0
          i64.eqz
          if (type 0) (param i64) ;; label = @4
            i32.wrap_i64
            loop (result i32) ;; label = @5
              global.get 3
              if ;; label = @6
              end
              global.get 3
              i32.const 1
              i32.sub
              global.set 3
              global.get 0
              local.set 0
              i64.const 262144
              loop ;; label = @6
                loop (result i32) ;; label = @7
                  br 7
                  block ;; label = @8
                  end
                  block ;; label = @8
                    block ;; label = @9
                    end
                    i64.const 0
                    local.set 12
                  end
                end
                global.set 2
              end
              global.get 1
              i64.xor
              global.set 1
              i32.const 763165005
            end
            i32.xor
            global.set 2
          else
            global.get 1
            i64.xor
            global.set 1
          end
          global.get 1
          i64.xor
          global.set 1
          global.set 2
        end
        global.set 2
        ref.null func
      end
      drop
    end
    drop
  )
  ;; Leaves nonzero values where the next call's registers will be, so that what wasmi
  ;; reads in `f` is not zero by chance (the canary calls it first).
  (func (export "fill") (param i64) (local i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64)
    local.get 0
    i64.const 65536
    i64.add
    local.set 1
    local.get 0
    i64.const 65537
    i64.add
    local.set 2
    local.get 0
    i64.const 65538
    i64.add
    local.set 3
    local.get 0
    i64.const 65539
    i64.add
    local.set 4
    local.get 0
    i64.const 65540
    i64.add
    local.set 5
    local.get 0
    i64.const 65541
    i64.add
    local.set 6
    local.get 0
    i64.const 65542
    i64.add
    local.set 7
    local.get 0
    i64.const 65543
    i64.add
    local.set 8
    local.get 0
    i64.const 65544
    i64.add
    local.set 9
    local.get 0
    i64.const 65545
    i64.add
    local.set 10
    local.get 0
    i64.const 65546
    i64.add
    local.set 11
    local.get 0
    i64.const 65547
    i64.add
    local.set 12
    local.get 0
    i64.const 65548
    i64.add
    local.set 13
    local.get 0
    i64.const 65549
    i64.add
    local.set 14
    local.get 0
    i64.const 65550
    i64.add
    local.set 15
    local.get 0
    i64.const 65551
    i64.add
    local.set 16
    local.get 0
    i64.const 65552
    i64.add
    local.set 17
    local.get 0
    i64.const 65553
    i64.add
    local.set 18
    local.get 0
    i64.const 65554
    i64.add
    local.set 19
    local.get 0
    i64.const 65555
    i64.add
    local.set 20
    local.get 0
    i64.const 65556
    i64.add
    local.set 21
    local.get 0
    i64.const 65557
    i64.add
    local.set 22
    local.get 0
    i64.const 65558
    i64.add
    local.set 23
    local.get 0
    i64.const 65559
    i64.add
    local.set 24
    local.get 0
    i64.const 65560
    i64.add
    local.set 25
    local.get 0
    i64.const 65561
    i64.add
    local.set 26
    local.get 0
    i64.const 65562
    i64.add
    local.set 27
    local.get 0
    i64.const 65563
    i64.add
    local.set 28
    local.get 0
    i64.const 65564
    i64.add
    local.set 29
    local.get 0
    i64.const 65565
    i64.add
    local.set 30
    local.get 0
    i64.const 65566
    i64.add
    local.set 31
    local.get 0
    i64.const 65567
    i64.add
    local.set 32
  )
)
