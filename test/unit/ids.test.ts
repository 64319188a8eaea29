import { utcStamp } from '../../common/ids';
import { cancellationWorkflowId, orderRefOf, orderRefsOf } from '../../contract/ids';

describe('order references and workflow ids', () => {
  test('seed timestamp: yyyyMMddHHmmssSSS in UTC', () => {
    expect(utcStamp(new Date(Date.UTC(2021, 5, 18, 11, 4, 17, 705)))).toBe('20210618110417705');
  });

  test('order references', () => {
    expect(orderRefOf({ payOrderId: 'P1', mchOrderNo: 'M1' })).toBe('pay:P1');
    expect(orderRefOf({ mchOrderNo: 'M1' })).toBe('mch:M1');
    expect(() => orderRefOf({})).toThrow(/payOrderId or mchOrderNo/);
    expect(orderRefsOf({ payOrderId: 'P1', mchOrderNo: 'M1' })).toEqual(['pay:P1', 'mch:M1']);
    expect(orderRefsOf({ mchOrderNo: 'M1' })).toEqual(['mch:M1']);
  });

  test('the workflow id names the app: two apps on one account never share a cancellation', () => {
    const a = cancellationWorkflowId('payby-ae', { mchNo: 'M1', appId: 'A1' }, 'mch:X');
    const b = cancellationWorkflowId('payby-ae', { mchNo: 'M1', appId: 'A2' }, 'mch:X');
    expect(a).toBe('cancel/payby-ae/M1/A1/mch:X');
    expect(a).not.toBe(b);
  });
});
