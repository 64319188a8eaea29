import { CANCEL_ORDER_ID, cancellationWorkflowId, newCancelOrderId, orderRefOf } from '../../common/ids';

describe('cancel order ids', () => {
  test('seed format: C + 17-digit UTC timestamp + 4 digits', () => {
    const id = newCancelOrderId(new Date(Date.UTC(2021, 5, 18, 11, 4, 17, 705)));
    expect(id).toMatch(CANCEL_ORDER_ID);
    expect(id.slice(0, 18)).toBe('C20210618110417705');
  });

  test('10,000 ids made in the same millisecond by one process are all different', () => {
    const at = new Date();
    const ids = new Set(Array.from({ length: 10_000 }, () => newCancelOrderId(at)));
    expect(ids.size).toBe(10_000);
  });

  test('order references and workflow ids', () => {
    expect(orderRefOf({ payOrderId: 'P1', mchOrderNo: 'M1' })).toBe('pay:P1');
    expect(orderRefOf({ mchOrderNo: 'M1' })).toBe('mch:M1');
    expect(() => orderRefOf({})).toThrow(/payOrderId or mchOrderNo/);
    expect(cancellationWorkflowId('payby-ae', 'mch:M1')).toBe('cancel/payby-ae/mch:M1');
  });
});
